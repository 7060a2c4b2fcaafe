//! `netcore serve`'s deployment flags (docs/deploy.md): several processes on one port, a load
//! balancer's PROXY protocol, systemd's sockets, metrics. Each flag is one conversion into the
//! core's config.

use clap::Args;

use super::Failure;
use crate::server::{handshake_timeout_secs, parse_addr, Listen, ProxyProtocol, ServerConfig};

#[derive(Args, Debug, Default, Clone, PartialEq)]
pub struct DeployArgs {
    /// SO_REUSEPORT: several netcore processes listen on the same address and the kernel
    /// spreads new connections across them
    #[arg(long)]
    pub reuse_port: bool,
    /// Every TCP and Unix listener expects a PROXY protocol header (v1 or v2) from a load
    /// balancer first: requests then show the real client's address
    #[arg(long)]
    pub proxy_protocol: bool,
    /// A TCP listener that expects a PROXY protocol header (repeatable; the others do not)
    #[arg(long, value_name = "ADDR")]
    pub listen_proxy: Vec<String>,
    /// Seconds a new connection has to send its PROXY header [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub handshake_timeout: Option<f64>,
    /// Serve Prometheus metrics on http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// One line on stderr per client accepted, with its (real) address
    #[arg(long)]
    pub log_connections: bool,
}

impl DeployArgs {
    /// Adds these flags to `config`. With systemd's sockets passed (`LISTEN_FDS`), they are
    /// served, instead of the default address when `no_listener_given`.
    pub fn apply(&self, config: &mut ServerConfig, no_listener_given: bool) -> Result<(), Failure> {
        let usage = |e: crate::Error| Failure::usage(e.to_string());
        let given = config.listen.clone();
        let passed = config.systemd_sockets().map_err(usage)?;
        if passed > 0 && no_listener_given {
            config.listen.retain(|l| !given.contains(l));
        }
        config.reuse_port = self.reuse_port;
        let mut only = Vec::new();
        for a in &self.listen_proxy {
            let l = Listen::Tcp(parse_addr(a).map_err(usage)?);
            config.listen.push(l.clone());
            only.push(l);
        }
        config.proxy_protocol = match (self.proxy_protocol, only.is_empty()) {
            (true, _) => ProxyProtocol::All,
            (false, false) => ProxyProtocol::Only(only),
            (false, true) => ProxyProtocol::Off,
        };
        if let Some(t) = self.handshake_timeout {
            config.limits.handshake_timeout = Some(handshake_timeout_secs(t).map_err(usage)?);
        }
        if let Some(a) = &self.metrics {
            config.metrics = Some(parse_addr(a).map_err(usage)?);
        }
        config.log_connections = self.log_connections;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Service;

    #[test]
    fn every_flag_reaches_the_config() {
        let args = DeployArgs {
            reuse_port: true,
            proxy_protocol: false,
            listen_proxy: vec!["127.0.0.1:7001".into()],
            handshake_timeout: Some(2.5),
            metrics: Some("9100".into()),
            log_connections: true,
        };
        let mut c = ServerConfig::new(Service::Command);
        args.apply(&mut c, false).unwrap();
        let lb = Listen::Tcp("127.0.0.1:7001".parse().unwrap());
        assert_eq!(c.listen, vec![lb.clone()]);
        assert_eq!(c.proxy_protocol, ProxyProtocol::Only(vec![lb]));
        assert!(c.reuse_port && c.log_connections);
        assert_eq!(c.limits.handshake_timeout, Some(std::time::Duration::from_millis(2500)));
        assert_eq!(c.metrics, Some("127.0.0.1:9100".parse().unwrap()));
        let mut c = ServerConfig::new(Service::Command);
        DeployArgs { proxy_protocol: true, ..DeployArgs::default() }.apply(&mut c, false).unwrap();
        assert_eq!(c.proxy_protocol, ProxyProtocol::All);
        let bad = DeployArgs { metrics: Some("nowhere".into()), ..DeployArgs::default() };
        assert_eq!(bad.apply(&mut ServerConfig::new(Service::Echo), false).unwrap_err().code, crate::cli::EXIT_USAGE);
    }
}
