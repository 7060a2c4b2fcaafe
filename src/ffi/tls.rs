//! C face of TLS: a client's TLS options (`netcore_client_new_tls`) and their conversion to
//! the core's `ClientTls`. The server side is `netcore_server_config_tls` and
//! `netcore_server_reload_tls` (server.rs).

use std::os::raw::c_char;

use super::boundary::{arg_opt_str, FfiError};
use crate::tls::ClientTls;

/// TLS settings of a client; every field may be NULL. No `cafile` or `capath`: the system's
/// trust store (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured). `certfile`/`keyfile`: the
/// client's certificate for mutual TLS (`keyfile` NULL: the key is in `certfile`).
/// `server_hostname`: the name checked and sent as SNI (default: the host connected to).
/// Verification cannot be turned off from C.
#[repr(C)]
pub struct netcore_tls_options {
    pub cafile: *const c_char,
    pub capath: *const c_char,
    pub certfile: *const c_char,
    pub keyfile: *const c_char,
    pub server_hostname: *const c_char,
}

/// The core settings `opts` describes (NULL `opts`: all defaults).
///
/// # Safety
/// `opts`, when not NULL, points to a valid `netcore_tls_options` whose non-NULL fields are
/// NUL-terminated strings.
pub(crate) unsafe fn client_tls(opts: *const netcore_tls_options) -> Result<ClientTls, FfiError> {
    // SAFETY: the caller's promise.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(ClientTls::default());
    };
    // SAFETY: the caller's promise, for every field.
    let path = |p, name| unsafe { arg_opt_str(p, name) }.map(|s| s.map(Into::into));
    Ok(ClientTls {
        cafile: path(o.cafile, "cafile")?,
        capath: path(o.capath, "capath")?,
        cert: path(o.certfile, "certfile")?,
        key: path(o.keyfile, "keyfile")?,
        server_name: unsafe { arg_opt_str(o.server_hostname, "server_hostname") }?.map(str::to_string),
        ..ClientTls::default()
    })
}
