//! C command callbacks: the request a callback sees (`netcore_request`), the reply it writes
//! into (`netcore_reply`; the functions that fill it are in `reply.rs`), and who owns its
//! userdata. `CHandler` turns a callback into the core's `Handler`.

use std::ffi::{c_void, CString};
use std::os::raw::c_char;
use std::sync::Arc;

use super::boundary::FfiError;
use crate::server::{Handler, Request, Response, Transport};

/// Where a command callback writes its reply (opaque; valid only during the callback).
pub struct netcore_reply {
    pub(super) data: Vec<u8>,
    pub(super) close: bool,
    pub(super) error: Option<String>,
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

/// A command callback: answer `request` by writing into `reply` with `netcore_reply_write`
/// (and optionally `netcore_reply_close` / `netcore_reply_error`). Return 0 on success; any
/// other value sends `error: command failed (N)` unless the callback set an error itself.
/// A callback that writes nothing sends an empty reply.
///
/// Threads: callbacks run on the server's worker threads (`netcore-server`), several at once
/// for different clients, never on the thread that called `netcore_server_start`; they must
/// be thread-safe. They must not block unless registered with a `_blocking_` function (a
/// callback runs on the worker that read its request, which serves nobody else meanwhile). A callback may call `netcore_server_stop` or
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
    /// Registered with a `_blocking_` function: runs on `Lane::Blocking`.
    blocking: bool,
}

impl Handler for CHandler {
    fn blocking(&self) -> bool {
        self.blocking
    }

    fn handle(&self, request: &Request<'_>) -> Response {
        // The request's C views are built in buffers kept per thread: no allocation per call.
        let mut views = REQUEST_VIEWS.take();
        let response = self.call(request, &mut views);
        REQUEST_VIEWS.set(views);
        response
    }
}

/// Reused storage for the C view of a request (the NUL-terminated peer, argv pointers and
/// lengths). Taken out of the thread-local for the call, so a callback that somehow re-enters
/// a handler on this thread just gets fresh buffers.
#[derive(Default)]
struct RequestViews {
    peer: Vec<u8>,
    argv: Vec<*const u8>,
    argv_len: Vec<usize>,
}

thread_local! {
    // Const-initialised: no lazy set-up check on each of the two accesses per call.
    static REQUEST_VIEWS: std::cell::Cell<RequestViews> = const {
        std::cell::Cell::new(RequestViews { peer: Vec::new(), argv: Vec::new(), argv_len: Vec::new() })
    };
}

impl CHandler {
    fn call(&self, request: &Request<'_>, views: &mut RequestViews) -> Response {
        views.peer.clear();
        let peer = request.peer.as_bytes();
        // A plain loop: peers are ~20 bytes, where memchr's vector set-up costs more.
        if peer.iter().all(|&b| b != 0) {
            views.peer.extend_from_slice(peer); // always, in practice: `IP:PORT` or `unix`
        } else {
            views.peer.extend(peer.iter().copied().filter(|&b| b != 0));
        }
        views.peer.push(0);
        views.argv.clear();
        views.argv.extend(request.argv.iter().map(|a| a.as_ptr()));
        views.argv_len.clear();
        views.argv_len.extend(request.argv.iter().map(|a| a.len()));
        let (command, args) = (request.command(), request.args());
        let peer_cert = request.peer_cert.map(|s| CString::new(s.replace('\0', "")).unwrap_or_default());
        let c_request = netcore_request {
            line: request.line.as_ptr(),
            line_len: request.line.len(),
            command: command.as_ptr(),
            command_len: command.len(),
            args: args.as_ptr(),
            args_len: args.len(),
            peer: views.peer.as_ptr().cast(),
            transport: request.transport.into(),
            peer_cert: peer_cert.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
            argc: views.argv.len(),
            argv: views.argv.as_ptr(),
            argv_len: views.argv_len.as_ptr(),
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

pub(super) fn handler(
    callback: netcore_command_fn,
    userdata: *mut c_void,
    free: netcore_free_fn,
    blocking: bool,
) -> Result<Arc<dyn Handler>, FfiError> {
    let callback = callback.ok_or(FfiError::NullArgument("callback"))?;
    Ok(Arc::new(CHandler { callback, userdata: UserData { ptr: userdata, free }, blocking }))
}
