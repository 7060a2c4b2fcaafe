//! C face of `crate::client`: a connected line/message client and UDP request/reply.
//!
//! Timeouts are in milliseconds: 0 means the default (10 000 ms for the client, 2 000 ms for
//! UDP) and `UINT32_MAX` means wait forever. A client handle is used by one thread at a time.

use std::os::raw::c_char;
use std::time::Duration;

use super::boundary::{arg_bytes, arg_out, arg_str, FfiError};
use super::status::netcore_status;
use super::strings::{into_c_string, netcore_string_list};
use crate::client::{self, udp, Client, Options};
use crate::error::Error;

/// A connected client (`netcore_client_new`, `netcore_client_new_unix`).
pub struct netcore_client {
    inner: Client,
}

fn timeout_of(ms: u32, default: Duration) -> Option<Duration> {
    match ms {
        0 => Some(default),
        u32::MAX => None,
        ms => Some(Duration::from_millis(ms.into())),
    }
}

fn arg_client<'a>(p: *mut netcore_client) -> Result<&'a mut Client, FfiError> {
    // SAFETY: the caller promises `p`, when not NULL, came from netcore_client_new* and is alive.
    unsafe { p.as_mut() }.map(|c| &mut c.inner).ok_or(FfiError::NullArgument("client"))
}

/// Hands bytes to C: a malloc-free pointer freed with `netcore_bytes_free(ptr, len)`.
fn give_bytes(bytes: Vec<u8>, out_data: &mut *mut u8, out_len: &mut usize) {
    let boxed = bytes.into_boxed_slice();
    *out_len = boxed.len();
    *out_data = Box::into_raw(boxed).cast::<u8>();
}

fn new_client(target: client::Target, timeout_ms: u32, out_client: *mut *mut netcore_client) -> Result<(), FfiError> {
    new_client_with(target, timeout_ms, None, out_client)
}

fn new_client_with(
    target: client::Target,
    timeout_ms: u32,
    tls: Option<crate::tls::ClientTls>,
    out_client: *mut *mut netcore_client,
) -> Result<(), FfiError> {
    let out_client = arg_out(out_client, "out_client")?;
    let opts = Options { timeout: timeout_of(timeout_ms, client::DEFAULT_TIMEOUT), tls, ..Options::default() };
    let inner = Client::connect_to(target, opts)?;
    *out_client = Box::into_raw(Box::new(netcore_client { inner }));
    Ok(())
}

/// Connects to `host` (a name, an IPv4 or an IPv6 literal) on `port`, trying each address
/// within `timeout_ms`. Refused: NETCORE_STATUS_CONNECTION_REFUSED; unknown host:
/// NETCORE_STATUS_ADDRESS_INFO; no answer in time: NETCORE_STATUS_TIMEOUT. The timeout also
/// bounds each later wait for the server. Free the client with `netcore_client_free`.
#[no_mangle]
pub extern "C" fn netcore_client_new(
    host: *const c_char,
    port: u16,
    timeout_ms: u32,
    out_client: *mut *mut netcore_client,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let host = unsafe { arg_str(host, "host")? };
        new_client(client::Target::Tcp { host: host.to_string(), port }, timeout_ms, out_client)
    })
}

/// As `netcore_client_new`, then a TLS handshake with `opts` (NULL: the system's trust
/// store, the host name checked). A refused certificate: NETCORE_STATUS_TLS_CERTIFICATE
/// (`netcore_last_error_code` gives OpenSSL's verify code, e.g. 10 expired, 20 unknown CA,
/// 62 wrong host name); another TLS failure: NETCORE_STATUS_TLS.
#[no_mangle]
pub extern "C" fn netcore_client_new_tls(
    host: *const c_char,
    port: u16,
    timeout_ms: u32,
    opts: *const super::netcore_tls_options,
    out_client: *mut *mut netcore_client,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL and the caller promises NUL-terminated strings; `opts` is the caller's promise (see netcore_tls_options).
        let host = unsafe { arg_str(host, "host")? };
        let tls = unsafe { super::tls::client_tls(opts)? };
        new_client_with(client::Target::Tcp { host: host.to_string(), port }, timeout_ms, Some(tls), out_client)
    })
}

/// Connects to the Unix stream socket at `path`. Otherwise as `netcore_client_new`.
#[no_mangle]
pub extern "C" fn netcore_client_new_unix(
    path: *const c_char,
    timeout_ms: u32,
    out_client: *mut *mut netcore_client,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let path = unsafe { arg_str(path, "path")? };
        new_client(client::Target::Unix(path.into()), timeout_ms, out_client)
    })
}

/// Closes the connection and frees the client. NULL is ignored.
#[no_mangle]
pub extern "C" fn netcore_client_free(client: *mut netcore_client) {
    ffi_boundary!(default = (); {
        // SAFETY: non-NULL clients passed here came from netcore_client_new*.
        unsafe { super::boundary::free_boxed(client) };
        Ok(())
    })
}

/// Changes the timeout for later calls (0: 10 000 ms, UINT32_MAX: wait forever).
#[no_mangle]
pub extern "C" fn netcore_client_set_timeout(client: *mut netcore_client, timeout_ms: u32) -> netcore_status {
    ffi_boundary!({
        arg_client(client)?.set_timeout(timeout_of(timeout_ms, client::DEFAULT_TIMEOUT));
        Ok(())
    })
}

/// Changes the longest reply accepted, in bytes (default 1 MiB); 0 gives INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn netcore_client_set_max_reply(client: *mut netcore_client, max_reply: usize) -> netcore_status {
    ffi_boundary!({
        arg_client(client)?.set_max_reply(max_reply)?;
        Ok(())
    })
}

/// Changes how long, waiting for a reply on a plain connection, the client looks for it
/// before sleeping, in microseconds, while the server keeps answering that quickly (default
/// 50; 0: off; at most 100000, else INVALID_ARGUMENT): lower latency to a server on the same
/// machine, for this thread's CPU while it looks (docs/engine.md, "Busy poll").
#[no_mangle]
pub extern "C" fn netcore_client_set_busy_poll_us(client: *mut netcore_client, microseconds: u32) -> netcore_status {
    ffi_boundary!({
        arg_client(client)?.set_busy_poll(Duration::from_micros(microseconds.into()))?;
        Ok(())
    })
}

/// Changes the quiet period that ends a message reply, in milliseconds (default 200).
#[no_mangle]
pub extern "C" fn netcore_client_set_quiet(client: *mut netcore_client, quiet_ms: u32) -> netcore_status {
    ffi_boundary!({
        arg_client(client)?.set_quiet(Duration::from_millis(quiet_ms.into()));
        Ok(())
    })
}

/// Sends `line` plus `\n` and waits for one reply line, returned without its `\n` or `\r\n`
/// (free it with `netcore_string_free`). A line containing `\n`: INVALID_ARGUMENT. The
/// server closing first: CONNECTION_CLOSED; a reply over 1 MiB: LINE_TOO_LONG; no reply in
/// time: TIMEOUT. After any failure but INVALID_ARGUMENT the connection is closed and later
/// calls give INVALID_STATE.
#[no_mangle]
pub extern "C" fn netcore_client_request(
    client: *mut netcore_client,
    line: *const c_char,
    out_reply: *mut *mut c_char,
) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let line = unsafe { arg_str(line, "line")? };
        let out_reply = arg_out(out_reply, "out_reply")?;
        let reply = client.request(line.as_bytes())?;
        *out_reply = into_c_string(reply);
        Ok(())
    })
}

/// Sends `count` lines at once, all in flight together, and returns the `count` replies in
/// order as a list (free it with `netcore_string_list_free`). Errors as for
/// `netcore_client_request`; on failure no list is returned.
#[no_mangle]
pub extern "C" fn netcore_client_pipeline(
    client: *mut netcore_client,
    lines: *const *const c_char,
    count: usize,
    out_replies: *mut *mut netcore_string_list,
) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        if lines.is_null() && count > 0 {
            return Err(FfiError::NullArgument("lines"));
        }
        let out_replies = arg_out(out_replies, "out_replies")?;
        let mut owned = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: the caller promises `lines` holds `count` pointers.
            let p = unsafe { *lines.add(i) };
            // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
            owned.push(unsafe { arg_str(p, "lines[i]")? });
        }
        let replies = client.pipeline(&owned)?;
        let texts = replies.into_iter().map(|r| String::from_utf8_lossy(&r).into_owned());
        *out_replies = Box::into_raw(netcore_string_list::new(texts));
        Ok(())
    })
}

/// Sends `len` bytes as they are (no newline added). Errors as for `netcore_client_request`.
#[no_mangle]
pub extern "C" fn netcore_client_send(client: *mut netcore_client, data: *const u8, len: usize) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        let data = arg_bytes(data, len, "data")?;
        client.send(data)?;
        Ok(())
    })
}

/// Reads one line (a greeting, or the reply to `netcore_client_send`), returned without its
/// terminator; free it with `netcore_string_free`. Errors as for `netcore_client_request`.
#[no_mangle]
pub extern "C" fn netcore_client_read_line(client: *mut netcore_client, out_line: *mut *mut c_char) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        let out_line = arg_out(out_line, "out_line")?;
        *out_line = into_c_string(client.read_line()?);
        Ok(())
    })
}

/// Message framing (seed 000's servers): sends `len` bytes as they are, then returns what
/// comes back until the server is quiet for 200 ms, closes, or 1 MiB arrived. Free the reply
/// with `netcore_bytes_free(*out_data, *out_len)`. Empty data: INVALID_ARGUMENT.
#[no_mangle]
pub extern "C" fn netcore_client_message(
    client: *mut netcore_client,
    data: *const u8,
    len: usize,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        let data = arg_bytes(data, len, "data")?;
        let out_data = arg_out(out_data, "out_data")?;
        let out_len = arg_out(out_len, "out_len")?;
        let reply = client.message(data)?;
        give_bytes(reply, out_data, out_len);
        Ok(())
    })
}

/// Message framing without sending: reads a greeting. Free as for `netcore_client_message`.
#[no_mangle]
pub extern "C" fn netcore_client_receive(
    client: *mut netcore_client,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        let out_data = arg_out(out_data, "out_data")?;
        let out_len = arg_out(out_len, "out_len")?;
        let reply = client.receive()?;
        give_bytes(reply, out_data, out_len);
        Ok(())
    })
}

/// Waits up to `wait_ms` for a greeting the server sends on connecting. None: OK with
/// `*out_data` NULL and `*out_len` 0, the connection still open. Otherwise the greeting,
/// read as `netcore_client_receive` does (free it with `netcore_bytes_free`).
#[no_mangle]
pub extern "C" fn netcore_client_greeting(
    client: *mut netcore_client,
    wait_ms: u32,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        let client = arg_client(client)?;
        let out_data = arg_out(out_data, "out_data")?;
        let out_len = arg_out(out_len, "out_len")?;
        match client.greeting(Duration::from_millis(wait_ms.into()))? {
            Some(text) => give_bytes(text, out_data, out_len),
            None => {
                *out_data = std::ptr::null_mut();
                *out_len = 0;
            }
        }
        Ok(())
    })
}

/// Frees bytes returned by netcore (`data` and the `len` that came with it). NULL is ignored.
#[no_mangle]
pub extern "C" fn netcore_bytes_free(data: *mut u8, len: usize) {
    ffi_boundary!(default = (); {
        // SAFETY: non-NULL data passed here came from give_bytes with this length.
        unsafe { super::boundary::free_boxed(std::ptr::slice_from_raw_parts_mut(data, len)) };
        Ok(())
    })
}

/// UDP request/reply: sends one datagram to `host:port` and returns the first datagram back.
/// Each attempt waits `timeout_ms` (0: 2000 ms); silence is retried `retries` times, then
/// TIMEOUT. A closed port: CONNECTION_REFUSED. Free the reply with `netcore_bytes_free`.
#[no_mangle]
pub extern "C" fn netcore_udp_request(
    host: *const c_char,
    port: u16,
    data: *const u8,
    len: usize,
    timeout_ms: u32,
    retries: u32,
    out_data: *mut *mut u8,
    out_len: *mut usize,
) -> netcore_status {
    ffi_boundary!({
        // SAFETY: arg_str refuses NULL; the caller promises a NUL-terminated string (netcore.h).
        let host = unsafe { arg_str(host, "host")? };
        let data = arg_bytes(data, len, "data")?;
        let out_data = arg_out(out_data, "out_data")?;
        let out_len = arg_out(out_len, "out_len")?;
        let timeout = match timeout_of(timeout_ms, Duration::from_secs(2)) {
            Some(t) => t,
            None => return Err(Error::InvalidArgument("a UDP request needs a finite timeout".into()).into()),
        };
        let reply = udp::request(host, port, data, &udp::UdpOptions { timeout, retries })?;
        give_bytes(reply, out_data, out_len);
        Ok(())
    })
}
