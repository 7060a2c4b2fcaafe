//! `netcore serve`: run a built-in service until Ctrl+C (SIGINT) or SIGTERM. Also the
//! program's default job: the command server on 127.0.0.1:21560.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Args;

use super::deploy::DeployArgs;
use super::Failure;
use crate::server::{
    idle_timeout_secs, parse_addr, Framing, Limits, Server, ServerConfig, Service, DEFAULT_BUSY_POLL, MAX_BUSY_POLL,
};

/// Where `netcore serve` listens when given no --listen, --udp or --unix (the default job).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:21560";

/// The services `--service` takes: the core's names and descriptions.
fn service_names() -> PossibleValuesParser {
    PossibleValuesParser::new(Service::NAMES.map(|n| PossibleValue::new(n).help(Service::about(n))))
}

fn framing_names() -> PossibleValuesParser {
    PossibleValuesParser::new(Framing::ALL.map(|f| PossibleValue::new(f.name()).help(f.about())))
}

/// `text` with the core's default quoted, for flags whose "not given" the core fills in.
fn with_default(text: &str, default: impl std::fmt::Display) -> String {
    format!("{text} [default: {default}]")
}

/// Serve a built-in service on TCP, UDP and Unix sockets until Ctrl+C.
///
/// Every engine option has a flag; a flag not given leaves the engine's default.
///
/// TLS: with --tls-cert and --tls-key every --listen address serves TLS, unless --tls-listen
/// names the TLS ones (then --listen stays plain TCP). SIGHUP re-reads the TLS files.
#[derive(Args, Debug, Default)]
#[command(after_help = super::exit::help("serve", "  netcore serve --service command --listen 127.0.0.1:21560\n  \
                        netcore serve --service greet --framing message --listen 127.0.0.1:8000 --udp 127.0.0.1:9000\n  \
                        netcore serve --service banner --banner 'Thank you for connection' --listen 8088\n  \
                        netcore serve --unix /tmp/netcore.sock --token-file ~/.netcore-token --workers 2\n  \
                        netcore serve --listen 127.0.0.1:21560 --reuse-port --proxy-protocol --metrics 127.0.0.1:9100\n  \
                        systemd-socket-activate -l 127.0.0.1:21560 netcore serve\n  \
                        netcore serve --listen 8443 --tls-cert certs/server.pem --tls-key certs/server.key   \
                        # certs: scripts/make-test-certs certs\n  \
                        netcore serve --listen 8000 --tls-listen 8443 --tls-cert certs/server.pem --tls-key certs/server.key \
                        --tls-client-ca certs/ca.pem"))]
pub struct ServeArgs {
    /// The service to run [default: command]
    #[arg(long, value_parser = service_names())]
    pub service: Option<String>,
    /// TCP address to listen on (HOST:PORT, [IPV6]:PORT or PORT; repeatable). Default
    /// 127.0.0.1:21560 when no --listen, --udp or --unix is given
    #[arg(long, value_name = "ADDR")]
    pub listen: Vec<String>,
    /// UDP address to serve (repeatable)
    #[arg(long, value_name = "ADDR")]
    pub udp: Vec<String>,
    /// Unix stream socket path (repeatable; created with mode 0600)
    #[arg(long, value_name = "PATH")]
    pub unix: Vec<PathBuf>,
    /// How requests are cut from the byte stream [default: line]
    #[arg(long, value_parser = framing_names())]
    pub framing: Option<String>,
    /// Directory `ls` is confined to (default: the working directory)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    #[arg(long, value_name = "N", help = with_default("Most clients served at once", Limits::DEFAULT.max_connections))]
    pub max_conns: Option<usize>,
    #[arg(long, value_name = "BYTES", help = with_default("Longest request line in bytes", Limits::DEFAULT.max_line))]
    pub max_line: Option<usize>,
    #[arg(long, value_name = "SECONDS", help = with_default(
        "Seconds without traffic before a client is closed (0: never)",
        Limits::DEFAULT.idle_timeout.map_or(0.0, |t| t.as_secs_f64()),
    ))]
    pub idle_timeout: Option<f64>,
    #[arg(long, value_name = "BYTES", help = with_default(
        "Reply bytes buffered per client before the server waits for it to read",
        Limits::DEFAULT.max_output,
    ))]
    pub max_output: Option<usize>,
    #[arg(long, value_name = "N", help = with_default(
        "Connections the kernel queues per TCP listener before they are accepted (capped by net.core.somaxconn)",
        Limits::DEFAULT.backlog,
    ))]
    pub backlog: Option<usize>,
    /// Engine worker threads [default: one per core]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    #[arg(long, value_name = "MICROSECONDS", help = with_default(
        &format!(
            "After each reply, look for the client's next request this many microseconds before \
             sleeping, while the client keeps coming back that quickly: lower latency at one request \
             in flight, for a worker's CPU (0: off; at most {})",
            MAX_BUSY_POLL.as_micros()
        ),
        DEFAULT_BUSY_POLL.as_micros(),
    ))]
    pub busy_poll_us: Option<u64>,
    /// File whose first line is a shared secret clients must send first
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Text of the banner service (only with --service banner) [default: "Thank you for connection"]
    #[arg(long, value_name = "TEXT")]
    pub banner: Option<String>,
    #[command(flatten)]
    pub deploy: DeployArgs,
    /// PEM certificate (chain) of the TLS listeners
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA file: clients must present a certificate it signed (mutual TLS)
    #[arg(long, value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// A TLS address (repeatable); with it, --listen addresses stay plain TCP
    #[arg(long, value_name = "ADDR")]
    pub tls_listen: Vec<String>,
}

impl ServeArgs {
    /// What `netcore` with no subcommand does: the command server on 127.0.0.1:21560.
    pub fn default_job() -> Self {
        ServeArgs { listen: vec![DEFAULT_LISTEN.into()], ..ServeArgs::default() }
    }

    /// The server configuration these arguments describe: each flag given is one conversion
    /// into the core's config, whose rules check it (at `update`, or at start).
    pub fn config(&self) -> Result<ServerConfig, Failure> {
        let usage = |e: crate::Error| Failure::usage(e.to_string());
        let banner = self.banner.as_deref().map(str::as_bytes);
        let name = self.service.as_deref().unwrap_or(Service::default().name());
        let service = Service::from_name(name, banner).map_err(usage)?;
        let mut config = ServerConfig::new(service);
        if let Some(framing) = &self.framing {
            config.framing = framing.parse().map_err(usage)?;
        }
        let mut listen = self.listen.clone();
        if listen.is_empty() && self.udp.is_empty() && self.unix.is_empty() && self.tls_listen.is_empty() {
            listen.push(DEFAULT_LISTEN.into());
        }
        for a in &listen {
            config = config.tcp(parse_addr(a).map_err(usage)?);
        }
        for a in &self.tls_listen {
            config = config.tls_listener(parse_addr(a).map_err(usage)?);
        }
        config.tls = crate::tls::ServerTls::from_options(
            self.tls_cert.clone(),
            self.tls_key.clone(),
            self.tls_client_ca.clone(),
        )
        .map_err(usage)?;
        for a in &self.udp {
            config = config.udp(parse_addr(a).map_err(usage)?);
        }
        for p in &self.unix {
            config = config.unix(p);
        }
        config.root = self.root.clone().or(config.root);
        let limits = &mut config.limits;
        limits.max_connections = self.max_conns.unwrap_or(limits.max_connections);
        limits.max_line = self.max_line.unwrap_or(limits.max_line);
        if let Some(seconds) = self.idle_timeout {
            limits.idle_timeout = idle_timeout_secs(seconds).map_err(usage)?;
        }
        limits.max_output = self.max_output.unwrap_or(limits.max_output);
        limits.backlog = self.backlog.unwrap_or(limits.backlog);
        config.workers = self.workers.or(config.workers);
        config.busy_poll = self.busy_poll_us.map_or(config.busy_poll, Duration::from_micros);
        if let Some(file) = &self.token_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::usage(format!("cannot read token file {}: {e}", file.display())))?;
            let token = text.lines().next().unwrap_or("").trim();
            if token.is_empty() {
                return Err(Failure::usage(format!("token file {} is empty", file.display())));
            }
            config = config.token(token);
        }
        self.deploy.apply(&mut config, self.listen.is_empty() && self.udp.is_empty() && self.unix.is_empty())?;
        config.validate().map_err(usage)?;
        Ok(config)
    }
}

/// Runs the server until SIGINT or SIGTERM, then stops it (5 s for replies in flight).
pub fn serve(args: &ServeArgs) -> Result<(), Failure> {
    let config = args.config()?;
    let framing = config.framing;
    // The signal handlers go in before the server announces itself, so a Ctrl+C right after
    // the "serving" line already stops it cleanly.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::network(format!("cannot wait for signals: {e}")))?;
    let (mut interrupt, mut terminate, mut hangup) = {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = signals.enter();
        let install =
            |kind| signal(kind).map_err(|e| Failure::network(format!("cannot install a signal handler: {e}")));
        (install(SignalKind::interrupt())?, install(SignalKind::terminate())?, install(SignalKind::hangup())?)
    };
    let server = Server::start(config).map_err(|e| match e {
        crate::Error::InvalidArgument(m) => Failure::usage(m),
        e @ crate::Error::Listen { .. } => Failure::network(e.to_string()),
        other => Failure::network(format!("cannot start the server: {other}")),
    })?;
    for a in server.local_addrs() {
        let tls = matches!(a, crate::server::BoundAddr::Tcp(s) if server.tls_addrs().contains(s));
        eprintln!(
            "netcore: serving {} ({} framing) on {} {a}",
            server.service_name(),
            framing.name(),
            if tls { "tls" } else { a.kind() }
        );
    }
    if let Some(a) = server.metrics_addr() {
        eprintln!("netcore: metrics on http://{a}/metrics");
    }
    eprintln!("netcore: press Ctrl+C to stop");
    signals.block_on(async {
        loop {
            tokio::select! {
                _ = interrupt.recv() => break,
                _ = terminate.recv() => break,
                _ = hangup.recv() => match server.reload_tls() {
                    Ok(()) => eprintln!("netcore: SIGHUP: TLS certificate and key re-read"),
                    Err(e) => eprintln!("netcore: SIGHUP: TLS files not reloaded, the old ones stay: {e}"),
                },
            }
        }
    });
    eprintln!("netcore: stopping");
    server.stop(Duration::from_secs(5)).map_err(|e| Failure::network(e.to_string()))?;
    let stats = server.stats();
    eprintln!("netcore: stopped after {}", stats.summary());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Listen;

    fn parsed(args: &[&str]) -> ServeArgs {
        use clap::FromArgMatches;
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let matches = command.try_get_matches_from(std::iter::once("serve").chain(args.iter().copied())).unwrap();
        ServeArgs::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn the_default_job_is_the_command_server_on_21560() {
        let config = ServeArgs::default_job().config().unwrap();
        assert_eq!(config.service, Service::Command);
        assert_eq!(config.framing, Framing::Line);
        assert_eq!(config.listen, vec![Listen::Tcp("127.0.0.1:21560".parse().unwrap())]);
        assert_eq!(config.limits, Limits::DEFAULT);
        assert_eq!(config.workers, None);
    }

    #[test]
    fn token_files_and_bad_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let mut args = ServeArgs::default_job();
        args.token_file = Some(file.clone());
        assert_eq!(args.config().unwrap().token.as_deref(), Some(&b"s3cret"[..]));
        std::fs::write(&file, "\n").unwrap();
        assert_eq!(args.config().unwrap_err().code, crate::cli::EXIT_USAGE);
        let mut args = ServeArgs::default_job();
        args.listen = vec!["0.0.0.0:99999".into()];
        assert_eq!(args.config().unwrap_err().code, crate::cli::EXIT_USAGE);
    }

    #[test]
    fn every_flag_reaches_the_config() {
        let c = parsed(&[
            "--service",
            "greet",
            "--listen",
            "[::1]:7000",
            "--listen",
            "8000",
            "--udp",
            "127.0.0.1:9000",
            "--unix",
            "/tmp/x.sock",
            "--framing",
            "message",
            "--root",
            "/srv",
            "--max-conns",
            "7",
            "--max-line",
            "99",
            "--idle-timeout",
            "0",
            "--max-output",
            "4096",
            "--workers",
            "3",
        ])
        .config()
        .unwrap();
        assert_eq!(c.service, Service::Greet);
        assert_eq!(c.framing, Framing::Message);
        assert_eq!(
            c.listen,
            vec![
                Listen::Tcp("[::1]:7000".parse().unwrap()),
                Listen::Tcp("127.0.0.1:8000".parse().unwrap()),
                Listen::Udp("127.0.0.1:9000".parse().unwrap()),
                Listen::Unix("/tmp/x.sock".into()),
            ]
        );
        assert_eq!(c.root.as_deref(), Some(std::path::Path::new("/srv")));
        let l = &c.limits;
        assert_eq!((l.max_connections, l.max_line, l.idle_timeout, l.max_output), (7, 99, None, 4096));
        assert_eq!(c.workers, Some(3));
        assert_eq!(
            parsed(&["--unix", "/tmp/y.sock"]).config().unwrap().listen,
            vec![Listen::Unix("/tmp/y.sock".into())]
        );
        assert_eq!(
            parsed(&["--idle-timeout", "1.5"]).config().unwrap().limits.idle_timeout,
            Some(Duration::from_millis(1500))
        );
        let banner = parsed(&["--service", "banner", "--banner", "欢迎访问！"]).config().unwrap();
        assert_eq!(banner.service, Service::Banner("欢迎访问！".as_bytes().to_vec()));
    }

    #[test]
    fn the_custom_service_is_served() {
        assert_eq!(parsed(&["--service", "custom"]).config().unwrap().service, Service::Custom);
    }

    #[test]
    fn the_core_rules_refuse_bad_values() {
        // The banner rule is the core's: a banner with any other service is a usage error.
        let e = parsed(&["--service", "echo", "--banner", "hi"]).config().unwrap_err();
        assert_eq!(e.code, crate::cli::EXIT_USAGE);
        assert!(e.message.starts_with("only the banner service takes a banner text"), "{}", e.message);
        assert!(parsed(&["--banner", "hi"]).config().is_err());
        for bad in ["--workers=0", "--max-output=0", "--max-conns=0", "--max-line=0", "--idle-timeout=-1"] {
            assert_eq!(parsed(&[bad]).config().unwrap_err().code, crate::cli::EXIT_USAGE, "{bad}");
        }
    }
}
