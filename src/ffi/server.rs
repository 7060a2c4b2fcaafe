//! C face of `crate::server`: configure, start, extend with C callbacks, stop.
//!
//! Threads: command callbacks run on the server's worker threads (named `netcore-server`),
//! several at once for different clients, never on the thread that called
//! `netcore_server_start`. A callback must be thread-safe, may block (other clients are served
//! meanwhile), and may call `netcore_server_stop` / `netcore_server_request_stop` on its own
//! server (the stop is then only requested; the owner's `netcore_server_stop`,
//! `netcore_server_wait` loop or `netcore_server_free` completes it). It must not call
//! `netcore_server_free` on its own server.

use std::ffi::{c_void, CString};
use std::os::raw::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::boundary::{arg_out, arg_ref, arg_str, FfiError};
use super::status::netcore_status;
use super::strings::into_c_string;
use crate::server::{
    idle_timeout_secs, parse_addr, BoundAddr, Framing, Handler, Request, Response, Server, ServerConfig, Service,
    Transport,
};

/// A server configuration being built (opaque). `netcore_server_config_new` / `_free`.
pub struct netcore_server_config {
    config: ServerConfig,
}

/// A running server (opaque). `netcore_server_start` / `netcore_server_free`.
pub struct netcore_server {
    pub(super) server: Server,
}

/// Where a command callback writes its reply (opaque; valid only during the callback).
pub struct netcore_reply {
    pub(super) data: Vec<u8>,
    close: bool,
    error: Option<String>,
    /// Values from the typed calls (`netcore_reply_bulk`, `_integer`, `_array`, ...).
    pub(super) typed: super::reply::TypedReply,
}

/// How a request arrived.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum netcore_transport {
    TCP = 0,
    UNIX = 1,
    UDP = 2,
    /// TLS over TCP.
    TLS = 3,
}

impl From<Transport> for netcore_transport {
    fn from(t: Transport) -> Self {
        match t {
            Transport::Tcp => netcore_transport::TCP,
            Transport::Unix => netcore_transport::UNIX,
            Transport::Udp => netcore_transport::UDP,
            Transport::Tls => netcore_transport::TLS,
        }
    }
}

/// One request, as a command callback sees it. Every pointer is valid only during the call.
/// `line` is the whole request without its line ending, as bytes: it may hold invalid UTF-8
/// and NUL bytes, so use the lengths. `command` is its first word, `args` the rest without
/// surrounding whitespace. `peer` is `IP:PORT` or `unix`, NUL-terminated. `peer_cert` is the
/// subject of the client's TLS certificate (`CN=alice, O=Example`), or NULL. `argv` holds
/// `argc` arguments, the command name first, each `argv_len[i]` bytes long (not
/// NUL-terminated): RESP framing's binary-safe array elements, else the words of `line`.
#[repr(C)]
pub struct netcore_request {
    pub line: *const u8,
    pub line_len: usize,
    pub command: *const u8,
    pub command_len: usize,
    pub args: *const u8,
    pub args_len: usize,
    pub peer: *const c_char,
    pub transport: netcore_transport,
    pub peer_cert: *const c_char,
    pub argc: usize,
    pub argv: *const *const u8,
    pub argv_len: *const usize,
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

/// A command callback: answer `request` by writing into `reply` with `netcore_reply_write`
/// (and optionally `netcore_reply_close` / `netcore_reply_error`). Return 0 on success; any
/// other value sends `error: command failed (N)` unless the callback set an error itself.
/// A callback that writes nothing sends an empty reply.
///
/// Threads: callbacks run on the server's worker threads (`netcore-server`), several at once
/// for different clients, never on the thread that called `netcore_server_start`; they must
/// be thread-safe and may block. A callback may call `netcore_server_stop` or
/// `netcore_server_request_stop` on its own server (the stop is then only requested and
/// completed by the owner's `netcore_server_stop`, `netcore_server_wait` + stop, or
/// `netcore_server_free`), but never `netcore_server_free`.
pub type netcore_command_fn = Option<
    unsafe extern "C" fn(userdata: *mut c_void, request: *const netcore_request, reply: *mut netcore_reply) -> i32,
>;

/// Frees a callback's userdata. netcore calls it exactly once, when the last configuration or
/// server using the callback is freed, on the thread that frees it.
pub type netcore_free_fn = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

struct UserData {
    ptr: *mut c_void,
    free: netcore_free_fn,
}

// SAFETY: the C API documents that callbacks (and so their userdata) are used from several
// threads; the caller guarantees thread safety of what the pointer refers to.
unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the caller gave this function for this pointer; called once.
            unsafe { free(self.ptr) };
        }
    }
}

struct CHandler {
    callback: unsafe extern "C" fn(*mut c_void, *const netcore_request, *mut netcore_reply) -> i32,
    userdata: UserData,
}

impl Handler for CHandler {
    fn handle(&self, request: &Request<'_>) -> Response {
        let peer = CString::new(request.peer.replace('\0', "")).unwrap_or_default();
        let (command, args) = (request.command(), request.args());
        let peer_cert = request.peer_cert.map(|s| CString::new(s.replace('\0', "")).unwrap_or_default());
        let argv: Vec<*const u8> = request.argv.iter().map(|a| a.as_ptr()).collect();
        let argv_len: Vec<usize> = request.argv.iter().map(|a| a.len()).collect();
        let c_request = netcore_request {
            line: request.line.as_ptr(),
            line_len: request.line.len(),
            command: command.as_ptr(),
            command_len: command.len(),
            args: args.as_ptr(),
            args_len: args.len(),
            peer: peer.as_ptr(),
            transport: request.transport.into(),
            peer_cert: peer_cert.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            argc: argv.len(),
            argv: argv.as_ptr(),
            argv_len: argv_len.as_ptr(),
        };
        let mut reply = netcore_reply { data: Vec::new(), close: false, error: None, typed: Default::default() };
        // SAFETY: the pointers live until the call returns; the callback's contract is C's.
        let rc = unsafe { (self.callback)(self.userdata.ptr, &c_request, &mut reply) };
        if let Some(text) = reply.error {
            return Response::Error(text);
        }
        if rc != 0 {
            return Response::Error(format!("command failed ({rc})"));
        }
        if reply.typed.is_started() {
            return match reply.typed.finish() {
                Ok(value) if reply.close => {
                    Response::ReplyAndClose(value.map_or_else(Vec::new, |v| crate::server::Reply::text(&v)))
                }
                Ok(value) => Response::Value(value.unwrap_or(crate::server::Reply::Null)),
                Err(text) => Response::Error(text),
            };
        }
        if reply.close {
            Response::ReplyAndClose(reply.data)
        } else {
            Response::Reply(reply.data)
        }
    }
}

fn handler(
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free: netcore_free_fn,
) -> Result<Arc<dyn Handler>, FfiError> {
    let callback = callback.ok_or(FfiError::NullArgument("callback"))?;
    Ok(Arc::new(CHandler { callback, userdata: UserData { ptr: userdata, free } }))
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
    // SAFETY: checked by arg_str.
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
        if !config.is_null() {
            // SAFETY: non-NULL configs passed here were made by netcore_server_config_new.
            drop(unsafe { Box::from_raw(config) });
        }
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
        // SAFETY: checked by arg_str / arg_opt_str.
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
/// `userdata` (command and custom services). `free_userdata` (may be NULL) is called once when
/// no configuration or server uses the callback any more. On failure nothing is kept and
/// `free_userdata` is not called.
#[no_mangle]
pub extern "C" fn netcore_server_config_add_command(
    config: *mut netcore_server_config,
    name: *const c_char,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let name = unsafe { arg_str(name, "name")? };
        let config = config_mut(config)?;
        crate::server::check_command_name(name.as_bytes())?;
        config.add_command_arc(name.as_bytes(), handler(callback, userdata, free_userdata)?);
        Ok(())
    })
}

/// Sets the callback for requests no command matches (instead of `welcome` or an error).
/// Same ownership rules as `netcore_server_config_add_command`.
#[no_mangle]
pub extern "C" fn netcore_server_config_set_default_handler(
    config: *mut netcore_server_config,
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free_userdata: netcore_free_fn,
) -> netcore_status {
    ffi_boundary!({
        let config = config_mut(config)?;
        let h = handler(callback, userdata, free_userdata)?;
        config.set_default_arc(h);
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
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let name = unsafe { arg_str(name, "name")? };
        let server = &arg_ref(server, "server")?.server;
        // Checked before the handler takes ownership of userdata: on failure nothing is kept.
        crate::server::check_command_name(name.as_bytes())?;
        server.add_command_arc(name.as_bytes(), handler(callback, userdata, free_userdata)?)?;
        Ok(())
    })
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
        if !server.is_null() {
            // SAFETY: non-NULL servers passed here were made by netcore_server_start.
            drop(unsafe { Box::from_raw(server) });
        }
        Ok(())
    })
}

/// Appends `len` bytes to the reply (line framing: sent as one line, the engine adds `\n`;
/// RESP framing: one bulk string). For typed values use `netcore_reply_bulk`,
/// `netcore_reply_simple`, `netcore_reply_integer`, `netcore_reply_null`, `netcore_reply_array`.
#[no_mangle]
pub extern "C" fn netcore_reply_write(reply: *mut netcore_reply, data: *const u8, len: usize) -> netcore_status {
    ffi_boundary!({
        let reply = arg_out(reply, "reply")?;
        if reply.typed.is_started() {
            return Err(FfiError::Core(crate::Error::InvalidArgument(
                "the reply holds typed values: add a bulk string with netcore_reply_bulk".into(),
            )));
        }
        if len > 0 {
            if data.is_null() {
                return Err(FfiError::NullArgument("data"));
            }
            // SAFETY: the caller promises `data` holds `len` readable bytes.
            reply.data.extend_from_slice(unsafe { std::slice::from_raw_parts(data, len) });
        }
        Ok(())
    })
}

/// Closes the connection after this reply (ignored for UDP).
#[no_mangle]
pub extern "C" fn netcore_reply_close(reply: *mut netcore_reply) -> netcore_status {
    ffi_boundary!({
        arg_out(reply, "reply")?.close = true;
        Ok(())
    })
}

/// Replaces the reply with `error: <message>` (counted as an error).
#[no_mangle]
pub extern "C" fn netcore_reply_error(reply: *mut netcore_reply, message: *const c_char) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let message = unsafe { arg_str(message, "message")? };
        arg_out(reply, "reply")?.error = Some(message.to_string());
        Ok(())
    })
}
