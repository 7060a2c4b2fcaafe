//! The C face of the deployment options (docs/deploy.md): each setter one conversion into
//! the core's config, by its rules (`ServerConfig::update`).

use std::os::raw::{c_char, c_int};

use super::boundary::{arg_out, arg_ref, arg_str, FfiError};
use super::server::{config_mut, netcore_server, netcore_server_config, update};
use super::status::netcore_status;
use super::strings::into_c_string;
use crate::server::{handshake_timeout_secs, parse_addr, Listen, ProxyProtocol};

/// SO_REUSEPORT on the TCP and UDP listeners: several processes serve one address, the
/// kernel spreads new connections across them. Default off.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_reuse_port(config: *mut netcore_server_config, on: bool) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.reuse_port = on) })
}

/// Every TCP and Unix listener expects a PROXY protocol header (v1 or v2) from a load
/// balancer before the client's bytes; requests then show the real client's address. Off
/// (the default): a header is an ordinary request, so clients cannot claim an address.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_proxy_protocol(
    config: *mut netcore_server_config,
    on: bool,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.proxy_protocol = if on { ProxyProtocol::All } else { ProxyProtocol::Off }) })
}

/// Adds a TCP listener (address forms as `netcore_server_config_listen_tcp`) that expects a
/// PROXY protocol header; the other listeners do not, unless
/// `netcore_server_config_set_proxy_protocol` turned it on for all.
#[no_mangle]
pub extern "C" fn netcore_server_config_listen_tcp_proxy(
    config: *mut netcore_server_config,
    address: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let listen = Listen::Tcp(parse_addr(unsafe { arg_str(address, "address")? })?);
        update(config, |c| {
            c.listen.push(listen.clone());
            match &mut c.proxy_protocol {
                ProxyProtocol::All => {}
                ProxyProtocol::Only(list) => list.push(listen),
                off => *off = ProxyProtocol::Only(vec![listen]),
            }
        })
    })
}

/// Milliseconds a new connection has to send its PROXY header (positive; default 10,000).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_handshake_timeout_ms(
    config: *mut netcore_server_config,
    timeout_ms: u64,
) -> netcore_status {
    ffi_boundary!({
        let timeout = handshake_timeout_secs(timeout_ms as f64 / 1000.0)?;
        update(config, |c| c.limits.handshake_timeout = Some(timeout))
    })
}

/// Serves Prometheus metrics on `http://ADDRESS/metrics` (address forms as
/// `netcore_server_config_listen_tcp`; port 0 picks one, see `netcore_server_metrics_port`).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_metrics(
    config: *mut netcore_server_config,
    address: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let at = parse_addr(unsafe { arg_str(address, "address")? })?;
        update(config, |c| c.metrics = Some(at))
    })
}

/// Serves a socket bound elsewhere: a listening TCP or Unix stream socket, or a UDP socket.
/// The server started from this configuration owns `fd` and closes it when it stops.
#[no_mangle]
pub extern "C" fn netcore_server_config_listen_fd(config: *mut netcore_server_config, fd: c_int) -> netcore_status {
    ffi_boundary!({
        if fd < 0 {
            return Err(crate::Error::InvalidArgument(format!("invalid descriptor {fd}")).into());
        }
        update(config, |c| c.listen.push(Listen::Fd(fd)))
    })
}

/// Adds the sockets systemd passed (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`; read once,
/// then removed from the environment) and writes how many to `out_count` (0: not
/// socket-activated).
#[no_mangle]
pub extern "C" fn netcore_server_config_use_systemd_sockets(
    config: *mut netcore_server_config,
    out_count: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        let out_count = arg_out(out_count, "out_count")?;
        *out_count = config_mut(config)?.systemd_sockets()?;
        Ok(())
    })
}

/// Writes one line to stderr per client accepted, with its (real) address. Default off.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_log_connections(
    config: *mut netcore_server_config,
    on: bool,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.log_connections = on) })
}

/// The port of the server's metrics endpoint; NETCORE_STATUS_INVALID_STATE without one.
#[no_mangle]
pub extern "C" fn netcore_server_metrics_port(server: *const netcore_server, out_port: *mut u16) -> netcore_status {
    ffi_boundary!({
        let server = arg_ref(server, "server")?;
        let out_port = arg_out(out_port, "out_port")?;
        let addr = server
            .server
            .metrics_addr()
            .ok_or_else(|| FfiError::from(crate::Error::InvalidState("the server has no metrics endpoint".into())))?;
        *out_port = addr.port();
        Ok(())
    })
}

/// The server's counters in the Prometheus text format (what `GET /metrics` answers), as a
/// new string for `netcore_string_free`.
#[no_mangle]
pub extern "C" fn netcore_server_metrics_text(
    server: *const netcore_server,
    out_text: *mut *mut c_char,
) -> netcore_status {
    ffi_boundary!({
        let server = arg_ref(server, "server")?;
        let out_text = arg_out(out_text, "out_text")?;
        *out_text = into_c_string(server.server.metrics_text());
        Ok(())
    })
}
