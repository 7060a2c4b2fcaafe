//! `netcore serve`: run a built-in service until Ctrl+C (SIGINT) or SIGTERM. Also the
//! program's default job: the command server on 127.0.0.1:21560.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::Failure;
use crate::server::{parse_addr, Framing, Limits, Server, ServerConfig, Service};

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum ServiceName {
    /// Seed 000: date, os, ls [PATH], help, quit; anything else → welcome
    Command,
    /// Seed 002: "Hello, I am server", then "Hello, <msg>!"
    Greet,
    /// Seeds 003/004: send --banner's text, then close
    Banner,
    /// Every request comes back unchanged
    Echo,
}

#[derive(Copy, Clone, Debug, ValueEnum, PartialEq, Eq)]
pub enum FramingName {
    /// One request per line, one reply line each
    Line,
    /// Each received chunk is one request; replies sent as they are (the seeds' clients)
    Message,
}

/// Serve a built-in service on TCP, UDP and Unix sockets until Ctrl+C.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  netcore serve --service command --listen 127.0.0.1:21560\n  \
                        netcore serve --service greet --framing message --listen 127.0.0.1:8000 --udp 127.0.0.1:9000\n  \
                        netcore serve --service banner --banner 'Thank you for connection' --listen 8088\n  \
                        netcore serve --unix /tmp/netcore.sock --token-file ~/.netcore-token")]
pub struct ServeArgs {
    /// The service to run
    #[arg(long, value_enum, default_value = "command")]
    pub service: ServiceName,
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
    /// How requests are cut from the byte stream
    #[arg(long, value_enum, default_value = "line")]
    pub framing: FramingName,
    /// Directory `ls` is confined to (default: the working directory)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Most clients served at once
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections)]
    pub max_conns: usize,
    /// Longest request line in bytes
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_line)]
    pub max_line: usize,
    /// Seconds without traffic before a client is closed (0: never)
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub idle_timeout: u64,
    /// File whose first line is a shared secret clients must send first
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Text of the banner service (default: "Thank you for connection")
    #[arg(long, value_name = "TEXT")]
    pub banner: Option<String>,
}

impl ServeArgs {
    /// What `netcore` with no subcommand does: the command server on 127.0.0.1:21560.
    pub fn default_job() -> Self {
        ServeArgs {
            service: ServiceName::Command,
            listen: vec!["127.0.0.1:21560".into()],
            udp: Vec::new(),
            unix: Vec::new(),
            framing: FramingName::Line,
            root: None,
            max_conns: Limits::default().max_connections,
            max_line: Limits::default().max_line,
            idle_timeout: 300,
            token_file: None,
            banner: None,
        }
    }

    /// The server configuration these arguments describe.
    pub fn config(&self) -> Result<ServerConfig, Failure> {
        let usage = |e: crate::Error| Failure::usage(e.to_string());
        let service = match self.service {
            ServiceName::Command => Service::Command,
            ServiceName::Greet => Service::Greet,
            ServiceName::Echo => Service::Echo,
            ServiceName::Banner => {
                Service::from_name("banner", self.banner.as_deref().map(str::as_bytes)).map_err(usage)?
            }
        };
        let mut config = ServerConfig::new(service).framing(match self.framing {
            FramingName::Line => Framing::Line,
            FramingName::Message => Framing::Message,
        });
        let mut listen = self.listen.clone();
        if listen.is_empty() && self.udp.is_empty() && self.unix.is_empty() {
            listen.push("127.0.0.1:21560".into());
        }
        for a in &listen {
            config = config.tcp(parse_addr(a).map_err(usage)?);
        }
        for a in &self.udp {
            config = config.udp(parse_addr(a).map_err(usage)?);
        }
        for p in &self.unix {
            config = config.unix(p);
        }
        if let Some(root) = &self.root {
            config = config.root(root);
        }
        config.limits = Limits {
            max_connections: self.max_conns,
            max_line: self.max_line,
            idle_timeout: (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout)),
            ..Limits::default()
        };
        if let Some(file) = &self.token_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::usage(format!("cannot read token file {}: {e}", file.display())))?;
            let token = text.lines().next().unwrap_or("").trim();
            if token.is_empty() {
                return Err(Failure::usage(format!("token file {} is empty", file.display())));
            }
            config = config.token(token);
        }
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
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let _guard = signals.enter();
        let install =
            |kind| signal(kind).map_err(|e| Failure::network(format!("cannot install a signal handler: {e}")));
        (install(SignalKind::interrupt())?, install(SignalKind::terminate())?)
    };
    let server = Server::start(config).map_err(|e| match e {
        crate::Error::InvalidArgument(m) => Failure::usage(m),
        other => Failure::network(format!("cannot start the server: {other}")),
    })?;
    for a in server.local_addrs() {
        eprintln!(
            "netcore: serving {} ({} framing) on {} {a}",
            server.service_name(),
            if framing == Framing::Line { "line" } else { "message" },
            a.kind()
        );
    }
    eprintln!("netcore: press Ctrl+C to stop");
    signals.block_on(async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    });
    eprintln!("netcore: stopping");
    server.stop(Duration::from_secs(5)).map_err(|e| Failure::network(e.to_string()))?;
    let stats = server.stats();
    eprintln!(
        "netcore: stopped after {} connections, {} requests ({} errors, {} rejected)",
        stats.connections_total, stats.requests, stats.errors, stats.rejected
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Listen;

    #[test]
    fn the_default_job_is_the_command_server_on_21560() {
        let config = ServeArgs::default_job().config().unwrap();
        assert_eq!(config.service, Service::Command);
        assert_eq!(config.framing, Framing::Line);
        assert_eq!(config.listen, vec![Listen::Tcp("127.0.0.1:21560".parse().unwrap())]);
        assert_eq!(config.limits, Limits::default());
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
}

#[cfg(test)]
mod more_tests {
    use super::*;
    use crate::server::Listen;

    #[test]
    fn every_flag_reaches_the_config() {
        let mut args = ServeArgs::default_job();
        args.service = ServiceName::Greet;
        args.listen = vec!["[::1]:7000".into(), "8000".into()];
        args.udp = vec!["127.0.0.1:9000".into()];
        args.unix = vec!["/tmp/x.sock".into()];
        args.framing = FramingName::Message;
        args.root = Some("/srv".into());
        args.max_conns = 7;
        args.max_line = 99;
        args.idle_timeout = 0;
        let c = args.config().unwrap();
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
        assert_eq!((c.limits.max_connections, c.limits.max_line, c.limits.idle_timeout), (7, 99, None));
        let mut only_unix = ServeArgs::default_job();
        only_unix.listen.clear();
        only_unix.unix = vec!["/tmp/y.sock".into()];
        assert_eq!(only_unix.config().unwrap().listen, vec![Listen::Unix("/tmp/y.sock".into())]);
        let mut banner = ServeArgs::default_job();
        banner.service = ServiceName::Banner;
        banner.banner = Some("欢迎访问！".into());
        assert_eq!(banner.config().unwrap().service, Service::Banner("欢迎访问！".as_bytes().to_vec()));
    }
}
