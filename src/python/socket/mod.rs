//! Python face of `crate::socket`: the `netcore.socket` class and the module functions.
//! Conversion only: Python arguments to core values and back, core errors to the stdlib's
//! exceptions. Every blocking call runs with the GIL released; on the main thread a signal
//! interrupts it (EINTR) and its handlers run, so Ctrl+C interrupts it promptly.
//!
//! - `buffer`: the buffer protocol (arguments to send from, receive into) and fresh bytes.
//! - `convert`: arguments (hosts, ports, addresses, timeouts) to core values, and back.
//! - `class`: the `netcore.socket` class.
//! - `msg`: `sendmsg`/`recvmsg`/`recvmsg_into` and descriptor passing.
//! - `sendfile`: `sendfile` and its fallback to `send`.
//! - `functions`: the module-level functions that make sockets.
//! - `utility`: the other module-level functions (`inet_*`, `if_*`, `CMSG_*`, `send_fds`, ...).
//! - `constants`: the module's integer constants.

mod buffer;
mod class;
mod constants;
mod convert;
mod functions;
mod msg;
mod sendfile;
mod utility;

use pyo3::prelude::*;

use super::gil;
use crate::socket::Interrupt;

pub use class::PySocket;

/// Runs a blocking core call through `gil::blocking`. On the main thread the call gets a hook
/// that runs Python's signal handlers after EINTR (a signal such as Ctrl+C ends the system
/// call, as in CPython, which also costs no extra system call per operation); an exception
/// from a handler (KeyboardInterrupt) ends the call and is raised.
fn blocking<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: for<'a, 'b> FnOnce(&'a mut Interrupt<'b>) -> crate::Result<T> + Send,
    T: Send,
{
    gil::blocking(py, |mut intr| f(&mut intr))
}

/// Like `blocking`, for a core call whose result carries several errors.
fn blocking_multi<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: for<'a, 'b> FnOnce(&'a mut Interrupt<'b>) -> T + Send,
    T: Send,
{
    blocking(py, |intr| Ok(f(intr)))
}

/// Adds the socket class, functions and constants to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySocket>()?;
    functions::register(m)?;
    utility::register(m)?;
    constants::register(m)
}
