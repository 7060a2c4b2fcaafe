//! `netcore resolve` and `netcore port`: the resolver from a shell.

use clap::{Args, ValueEnum};

use super::Failure;
use crate::resolve;

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum Family {
    /// IPv4 and IPv6
    Any,
    /// IPv4 only
    #[value(name = "4")]
    V4,
    /// IPv6 only
    #[value(name = "6")]
    V6,
}

/// Resolve a host name to its addresses (getaddrinfo), with its canonical name.
#[derive(Args, Debug)]
#[command(after_help = super::exit::help("resolve", "  netcore resolve localhost\n  netcore resolve ::1 --family 6"))]
pub struct ResolveArgs {
    /// Host name or address literal
    pub host: String,
    /// Address family to ask for
    #[arg(long, short, value_enum, default_value = "any")]
    pub family: Family,
}

/// Look up a service's port (`port http tcp`) or, given a number, the service on a port.
#[derive(Args, Debug)]
#[command(after_help = super::exit::help("port", "  netcore port http tcp    # 80\n  netcore port 25          # smtp"))]
pub struct PortArgs {
    /// Service name (http, smtp, ...) or port number
    pub name: String,
    /// Protocol (tcp or udp); any when omitted
    pub proto: Option<String>,
}

pub fn resolve(args: &ResolveArgs) -> Result<(), Failure> {
    let family = match args.family {
        Family::Any => libc::AF_UNSPEC,
        Family::V4 => libc::AF_INET,
        Family::V6 => libc::AF_INET6,
    };
    let found = resolve::getaddrinfo(Some(&args.host), None, family, libc::SOCK_STREAM, 0, libc::AI_CANONNAME)
        .map_err(|e| Failure::network(format!("cannot resolve {}: {e}", args.host)))?;
    let canon = found.first().map(|ai| ai.canonname.as_str()).filter(|c| !c.is_empty());
    println!("{}", canon.unwrap_or(&args.host));
    for ai in &found {
        let label = if ai.addr.is_ipv4() { "IPv4" } else { "IPv6" };
        println!("  {:<40} {label}", ai.addr.ip());
    }
    Ok(())
}

pub fn port(args: &PortArgs) -> Result<(), Failure> {
    let proto = args.proto.as_deref();
    if let Ok(number) = args.name.parse::<i64>() {
        let name = resolve::getservbyport(number, proto).map_err(|e| match e {
            crate::Error::Overflow(m) => Failure::usage(m),
            e => Failure::network(format!("port {number}: {e}")),
        })?;
        println!("{name}");
    } else {
        let port = resolve::getservbyname(&args.name, proto)
            .map_err(|e| Failure::network(format!("service {}: {e}", args.name)))?;
        println!("{port}");
    }
    Ok(())
}
