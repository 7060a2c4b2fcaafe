//! C face of `crate::server`: configure, start, extend with C callbacks, stop.
//!
//! Threads: command callbacks run on the server's worker threads (named `netcore-server`),
//! several at once for different clients, never on the thread that called
//! `netcore_server_start`. A callback must be thread-safe, may block (other clients are served
//! meanwhile), and may call `netcore_server_stop` / `netcore_server_request_stop` on its own
//! server (the stop is then only requested; the owner's `netcore_server_stop`,
//! `netcore_server_wait` loop or `netcore_server_free` completes it). It must not call
//! `netcore_server_free` on its own server.

use std::ffi::c_void;
use std::os::raw::c_char;
use std::time::Duration;

use super::boundary::{arg_out, arg_ref, arg_str, FfiError};
use super::command::{handler, netcore_command_fn, netcore_free_fn, netcore_transport};
use super::status::netcore_status;
use super::strings::into_c_string;
use crate::server::{idle_timeout_secs, parse_addr, BoundAddr, Framing, Server, ServerConfig, Service};

/// A server configuration being built (opaque). `netcore_server_config_new` / `_free`.
pub struct netcore_server_config {
    config: ServerConfig,
}

/// A running server (opaque). `netcore_server_start` / `netcore_server_free`.
pub struct netcore_server {
    pub(super) server: Server,
}

/// Counters of a running server.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct netcore_server_stats {
    /// Stream clients connected now.
    pub connections_open: u64,
    /// Stream clients accepted since start.
    pub connections_total: u64,
    /// Requests received (lines, messages, datagrams).
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Error replies, failed callbacks, I/O errors, limit violations.
    pub errors: u64,
    /// Clients turned away: too many connections, wrong token, HTTP-looking requests, no
    /// valid PROXY header.
    pub rejected: u64,
    /// Connection handshakes completed: TLS, and PROXY protocol headers.
    pub handshakes: u64,
    /// Handshakes that failed, timed out or (TLS) found too many others in progress.
    pub handshake_failures: u64,
}

pub(super) fn config_mut<'a>(config: *mut netcore_server_config) -> Result<&'a mut ServerConfig, FfiError> {
    Ok(&mut arg_out(config, "config")?.config)
}

/// Applies one setter's change by the core's rules (`ServerConfig::update`): a refused value
/// leaves the configuration as it was.
pub(super) fn update(
    config: *mut netcore_server_config,
    change: impl FnOnce(&mut ServerConfig),
) -> Result<(), FfiError> {
    Ok(config_mut(config)?.update(change)?)
}

/// Parses `address` and adds it to `config` as the listener `kind` makes of it.
fn add_listener(
    config: *mut netcore_server_config,
    address: *const c_char,
    kind: fn(std::net::SocketAddr) -> crate::server::Listen,
) -> Result<(), FfiError> {
    // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
    let address = unsafe { arg_str(address, "address")? };
    let listen = kind(parse_addr(address)?);
    update(config, |c| c.listen.push(listen))
}

/// Starts a configuration for `service`: "command", "greet", "banner", "echo" or "custom".
/// A setter not called leaves the core's default (line framing, 127.0.0.1 with an ephemeral
/// port if no listener is added, and the limits of docs/engine.md).
#[no_mangle]
pub extern "C" fn netcore_server_config_new(
    service: *const c_char,
    out_config: *mut *mut netcore_server_config,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let service = unsafe { arg_str(service, "service")? };
        let out_config = arg_out(out_config, "out_config")?;
        let service = Service::from_name(service, None)?;
        *out_config = Box::into_raw(Box::new(netcore_server_config { config: ServerConfig::new(service) }));
        Ok(())
    })
}

/// Frees a configuration (servers started from it keep their own copy). NULL is ignored.
#[no_mangle]
pub extern "C" fn netcore_server_config_free(config: *mut netcore_server_config) {
    ffi_boundary!(default = (); {
        // SAFETY: non-NULL configs passed here were made by netcore_server_config_new.
        unsafe { super::boundary::free_boxed(config) };
        Ok(())
    })
}

/// Adds a TCP listener: "127.0.0.1:4000", "[::1]:0", "HOSTNAME:80" (resolved, IPv4 first) or a
/// bare port (meaning 127.0.0.1). An IPv6 wildcard ("[::]:N") also accepts IPv4 clients.
/// Unknown host: NETCORE_STATUS_ADDRESS_INFO.
#[no_mangle]
pub extern "C" fn netcore_server_config_listen_tcp(
    config: *mut netcore_server_config,
    address: *const c_char,
) -> netcore_status {
    ffi_boundary!({ add_listener(config, address, crate::server::Listen::Tcp) })
}

/// Adds a UDP listener (same address forms as `netcore_server_config_listen_tcp`).
#[no_mangle]
pub extern "C" fn netcore_server_config_listen_udp(
    config: *mut netcore_server_config,
    address: *const c_char,
) -> netcore_status {
    ffi_boundary!({ add_listener(config, address, crate::server::Listen::Udp) })
}

/// Adds a Unix stream socket at `path` (mode 0600; a stale file from a dead server is
/// replaced, a live server's socket or any other file makes the start fail).
#[no_mangle]
pub extern "C" fn netcore_server_config_listen_unix(
    config: *mut netcore_server_config,
    path: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let path = unsafe { arg_str(path, "path")? };
        update(config, |c| c.listen.push(crate::server::Listen::Unix(path.into())))
    })
}

/// Sets the framing: "line" (default) or "message".
#[no_mangle]
pub extern "C" fn netcore_server_config_set_framing(
    config: *mut netcore_server_config,
    framing: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let framing: Framing = unsafe { arg_str(framing, "framing")? }.parse()?;
        update(config, |c| c.framing = framing)
    })
}

/// Sets the directory `ls` is confined to (checked when the server starts).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_root(
    config: *mut netcore_server_config,
    dir: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let dir = unsafe { arg_str(dir, "dir")? };
        update(config, |c| c.root = Some(dir.into()))
    })
}

/// Sets the text of the `banner` service (`len` bytes, sent exactly as given).
/// Other services: NETCORE_STATUS_INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_banner(
    config: *mut netcore_server_config,
    text: *const u8,
    len: usize,
) -> netcore_status {
    ffi_boundary!({
        if text.is_null() {
            return Err(FfiError::NullArgument("text"));
        }
        let config = config_mut(config)?;
        // SAFETY: the caller promises `text` holds `len` readable bytes.
        config.service = config.service.clone().with_banner(unsafe { std::slice::from_raw_parts(text, len) })?;
        Ok(())
    })
}

/// Most stream clients served at once (at least 1); the next get `error: too many connections`.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_max_connections(
    config: *mut netcore_server_config,
    max: usize,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.limits.max_connections = max) })
}

/// Longest request line in bytes (at least 1); a longer one gets an error reply and the
/// connection is closed.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_max_line(config: *mut netcore_server_config, max: usize) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.limits.max_line = max) })
}

/// Closes clients idle (no read or write progress) for `timeout_ms`; 0 disables the timeout.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_idle_timeout_ms(
    config: *mut netcore_server_config,
    timeout_ms: u64,
) -> netcore_status {
    ffi_boundary!({
        let timeout = idle_timeout_secs(timeout_ms as f64 / 1000.0)?;
        update(config, |c| c.limits.idle_timeout = timeout)
    })
}

/// Reply bytes buffered per client before the server waits for it to read (at least 1).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_max_output(
    config: *mut netcore_server_config,
    max: usize,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.limits.max_output = max) })
}

/// After each reply, a stream connection looks for the client's next request for this many
/// microseconds before it sleeps, while the client keeps coming back that quickly (default
/// 50; 0: off; at most 100000): lower latency for clients with one request in flight, for a
/// worker's CPU while it looks (docs/engine.md, "Busy poll").
#[no_mangle]
pub extern "C" fn netcore_server_config_set_busy_poll_us(
    config: *mut netcore_server_config,
    microseconds: u32,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.busy_poll = Duration::from_micros(microseconds.into())) })
}

/// The queue of connections not yet accepted, per TCP listener (at least 1; default 1024;
/// the kernel caps it at net.core.somaxconn).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_backlog(
    config: *mut netcore_server_config,
    backlog: usize,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.limits.backlog = backlog) })
}

/// Worker threads of the engine (at least 1; default: one per core).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_workers(
    config: *mut netcore_server_config,
    workers: usize,
) -> netcore_status {
    ffi_boundary!({ update(config, |c| c.workers = Some(workers)) })
}

/// Requires clients to send `token` as their first line (UDP: `TOKEN request`). One word,
/// without spaces.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_token(
    config: *mut netcore_server_config,
    token: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let token = unsafe { arg_str(token, "token")? };
        update(config, |c| c.token = Some(token.as_bytes().to_vec()))
    })
}

/// Serves TLS: `cert` and `key` are PEM files (the certificate chain and its private key),
/// `client_ca` a PEM CA file whose client certificates are required (mutual TLS), or NULL.
/// Every TCP listener becomes TLS. The files are read by `netcore_server_start`, which fails
/// with NETCORE_STATUS_INVALID_ARGUMENT naming a missing or bad file.
#[no_mangle]
pub extern "C" fn netcore_server_config_tls(
    config: *mut netcore_server_config,
    cert: *const c_char,
    key: *const c_char,
    client_ca: *const c_char,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL (arg_opt_str takes it as absent); the caller promises NUL-terminated strings (netcore.h).
        let (cert, key) = unsafe { (arg_str(cert, "cert")?, arg_str(key, "key")?) };
        let client_ca = unsafe { super::boundary::arg_opt_str(client_ca, "client_ca")? };
        let tls = crate::tls::ServerTls::from_options(Some(cert.into()), Some(key.into()), client_ca.map(Into::into))?;
        config_mut(config)?.tls = tls;
        Ok(())
    })
}

/// Re-reads the TLS files of a running server: new handshakes use them, open connections
/// keep theirs. On an error the old ones stay (NETCORE_STATUS_INVALID_ARGUMENT names the
/// file); a server without TLS: NETCORE_STATUS_INVALID_STATE.
#[no_mangle]
pub extern "C" fn netcore_server_reload_tls(server: *const netcore_server) -> netcore_status {
    ffi_boundary!({
        arg_ref(server, "server")?.server.reload_tls()?;
        Ok(())
    })
}

/// Adds a user command: requests whose first word is `name` go to `callback` with
/// `userdata` (command and custom services). The callback runs on the engine thread that read
/// the request and must not block: while it runs, that thread serves no other client (use
/// `netcore_server_config_add_blocking_command` for one that does I/O or sleeps).
/// `free_userdata` (may be NULL) is called once when no configuration or server uses the
/// callback any more. On failure nothing is kept and `free_userdata` is not called.
#[no_mangle]
pub extern "C" fn netcore_server_config_add_command(
    config: *mut netcore_server_config,
    name: *const c_char,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({ config_add(config, name, (callback, userdata, free_userdata), false) })
}

/// As `netcore_server_config_add_command`, for a callback that may block: it runs with the
/// engine thread's other clients handed to another thread first, so it stalls nobody (a
/// hand-off per batch of requests, ~3x the cost of a quick callback).
#[no_mangle]
pub extern "C" fn netcore_server_config_add_blocking_command(
    config: *mut netcore_server_config,
    name: *const c_char,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({ config_add(config, name, (callback, userdata, free_userdata), true) })
}

fn config_add(
    config: *mut netcore_server_config,
    name: *const c_char,
    (callback, userdata, free): (netcore_command_fn, *mut c_void, netcore_free_fn),
    blocking: bool,
) -> Result<(), FfiError> {
    // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
    let name = unsafe { arg_str(name, "name")? };
    let config = config_mut(config)?;
    crate::server::check_command_name(name.as_bytes())?;
    // Made last, after every check: on failure nothing owns (and so nothing frees) userdata.
    config.add_command_arc(name.as_bytes(), handler(callback, userdata, free, blocking)?);
    Ok(())
}

/// Sets the callback for requests no command matches (instead of `welcome` or an error).
/// Same rules as `netcore_server_config_add_command` (it must not block).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_default_handler(
    config: *mut netcore_server_config,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({
        let config = config_mut(config)?;
        config.set_default_arc(handler(callback, userdata, free_userdata, false)?);
        Ok(())
    })
}

/// As `netcore_server_config_set_default_handler`, for a callback that may block (see
/// `netcore_server_config_add_blocking_command`).
#[no_mangle]
pub extern "C" fn netcore_server_config_set_blocking_default_handler(
    config: *mut netcore_server_config,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({
        let config = config_mut(config)?;
        config.set_default_arc(handler(callback, userdata, free_userdata, true)?);
        Ok(())
    })
}

/// Binds every listener and starts serving in the background. The configuration is copied
/// (callbacks are shared). Bind failures: NETCORE_STATUS_OS_ERROR with errno (EADDRINUSE...).
#[no_mangle]
pub extern "C" fn netcore_server_start(
    config: *const netcore_server_config,
    out_server: *mut *mut netcore_server,
) -> netcore_status {
    ffi_boundary!({
        let config = arg_ref(config, "config")?;
        let out_server = arg_out(out_server, "out_server")?;
        let server = Server::start(config.config.clone())?;
        *out_server = Box::into_raw(Box::new(netcore_server { server }));
        Ok(())
    })
}

/// Adds or replaces a user command while the server runs (rules as for the configuration).
#[no_mangle]
pub extern "C" fn netcore_server_add_command(
    server: *const netcore_server,
    name: *const c_char,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({ server_add(server, name, (callback, userdata, free_userdata), false) })
}

/// As `netcore_server_add_command`, for a callback that may block (see
/// `netcore_server_config_add_blocking_command`).
#[no_mangle]
pub extern "C" fn netcore_server_add_blocking_command(
    server: *const netcore_server,
    name: *const c_char,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({ server_add(server, name, (callback, userdata, free_userdata), true) })
}

fn server_add(
    server: *const netcore_server,
    name: *const c_char,
    (callback, userdata, free): (netcore_command_fn, *mut c_void, netcore_free_fn),
    blocking: bool,
) -> Result<(), FfiError> {
    // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
    let name = unsafe { arg_str(name, "name")? };
    let server = &arg_ref(server, "server")?.server;
    // Checked before the handler takes ownership of userdata: on failure nothing is kept.
    crate::server::check_command_name(name.as_bytes())?;
    server.add_command_arc(name.as_bytes(), handler(callback, userdata, free, blocking)?)?;
    Ok(())
}

/// The number of bound addresses (0 for NULL).
#[no_mangle]
pub extern "C" fn netcore_server_address_count(server: *const netcore_server) -> usize {
    ffi_boundary!(default = 0; {
        Ok(arg_ref(server, "server")?.server.local_addrs().len())
    })
}

fn bound<'a>(server: *const netcore_server, index: usize) -> Result<&'a BoundAddr, FfiError> {
    let server: &'a netcore_server = arg_ref(server, "server")?;
    let addrs = server.server.local_addrs();
    addrs.get(index).ok_or(FfiError::OutOfRange { index, len: addrs.len() })
}

/// Bound address `index` as text ("127.0.0.1:4000", "[::1]:53" or the socket path), in the
/// order configured; port 0 shows the real port. Free it with `netcore_string_free`.
#[no_mangle]
pub extern "C" fn netcore_server_address(
    server: *const netcore_server,
    index: usize,
    out_address: *mut *mut c_char,
) -> netcore_status {
    ffi_boundary!({
        let addr = bound(server, index)?;
        let out_address = arg_out(out_address, "out_address")?;
        *out_address = into_c_string(addr.to_string());
        Ok(())
    })
}

/// The port and transport of bound address `index` (port 0 for Unix sockets).
#[no_mangle]
pub extern "C" fn netcore_server_port(
    server: *const netcore_server,
    index: usize,
    out_port: *mut u16,
    out_transport: *mut netcore_transport,
) -> netcore_status {
    ffi_boundary!({
        let addr = bound(server, index)?;
        let out_port = arg_out(out_port, "out_port")?;
        let out_transport = arg_out(out_transport, "out_transport")?;
        *out_port = addr.port();
        *out_transport = match addr {
            BoundAddr::Tcp(_) => netcore_transport::TCP,
            BoundAddr::Udp(_) => netcore_transport::UDP,
            BoundAddr::Unix(_) => netcore_transport::UNIX,
        };
        Ok(())
    })
}

/// A snapshot of the server's counters.
#[no_mangle]
pub extern "C" fn netcore_server_get_stats(
    server: *const netcore_server,
    out_stats: *mut netcore_server_stats,
) -> netcore_status {
    ffi_boundary!({
        let s = arg_ref(server, "server")?.server.stats();
        let out_stats = arg_out(out_stats, "out_stats")?;
        *out_stats = netcore_server_stats {
            connections_open: s.connections_open,
            connections_total: s.connections_total,
            requests: s.requests,
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            errors: s.errors,
            rejected: s.rejected,
            handshakes: s.handshakes,
            handshake_failures: s.handshake_failures,
        };
        Ok(())
    })
}

/// Asks the server to stop without waiting. Safe from any thread, callbacks included.
#[no_mangle]
pub extern "C" fn netcore_server_request_stop(server: *const netcore_server) -> netcore_status {
    ffi_boundary!({
        arg_ref(server, "server")?.server.request_stop();
        Ok(())
    })
}

/// Blocks until a stop is requested or `timeout_ms` passes (negative: no limit); writes
/// whether the server is stopping. With `netcore_server_stop` afterwards this is
/// serve_forever.
#[no_mangle]
pub extern "C" fn netcore_server_wait(
    server: *const netcore_server,
    timeout_ms: i64,
    out_stopping: *mut bool,
) -> netcore_status {
    ffi_boundary!({
        let server = &arg_ref(server, "server")?.server;
        let out_stopping = arg_out(out_stopping, "out_stopping")?;
        let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        *out_stopping = server.wait(timeout);
        Ok(())
    })
}

/// Stops accepting, sends the replies in flight, closes every client and releases the
/// sockets, waiting up to `timeout_ms`. From a callback of this server it only requests the
/// stop. Calling it again is harmless.
#[no_mangle]
pub extern "C" fn netcore_server_stop(server: *const netcore_server, timeout_ms: u64) -> netcore_status {
    ffi_boundary!({
        arg_ref(server, "server")?.server.stop(Duration::from_millis(timeout_ms))?;
        Ok(())
    })
}

/// Stops the server (1 s for replies in flight) if still running, and frees it. NULL is
/// ignored. Never call it from one of the server's own callbacks.
#[no_mangle]
pub extern "C" fn netcore_server_free(server: *mut netcore_server) {
    ffi_boundary!(default = (); {
        // SAFETY: non-NULL servers passed here were made by netcore_server_start.
        unsafe { super::boundary::free_boxed(server) };
        Ok(())
    })
}
