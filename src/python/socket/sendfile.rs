//! `socket.sendfile(file, offset=0, count=None)`: the core's `sendfile(2)` path for a file
//! object with a descriptor, else the stdlib's fallback (read a block, send it), each with the
//! stdlib's checks and its rule for where the file's position ends up.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyMemoryView};

use super::blocking;
use super::buffer::Data;
use crate::python::errors::{to_pyerr, IntoPyResult};
use crate::socket::sendfile::{self as core, SendfileError, FALLBACK_BLOCK};
use crate::socket::Socket;

/// The stdlib's `_check_sendfile_params`: binary file, stream socket, positive int count.
fn check_params(
    sock: &Socket,
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<i64>> {
    let mode = match file.getattr("mode") {
        Ok(m) => m.str()?.to_string(),
        Err(_) => "b".into(),
    };
    if !mode.contains('b') {
        return Err(PyValueError::new_err("file should be opened in binary mode"));
    }
    let count = match count {
        Some(c) if !c.is_none() => {
            let repr = c.repr()?.to_string();
            if !c.is_instance_of::<PyInt>() {
                core::check_params(sock, None).py_err(py)?;
                return Err(PyTypeError::new_err(format!("count must be a positive integer (got {repr})")));
            }
            // Beyond i64 is still positive; the kernel stops at the file's end anyway.
            Some(c.extract::<i64>().unwrap_or(i64::MAX))
        }
        _ => None,
    };
    core::check_params(sock, count).py_err(py)?;
    Ok(count)
}

/// The file's descriptor, or the reason it has none (the stdlib then gives up on sendfile(2)).
fn file_descriptor(py: Python<'_>, file: &Bound<'_, PyAny>) -> PyResult<Result<i32, PyErr>> {
    let unsupported = py.import("io")?.getattr("UnsupportedOperation")?;
    match file.call_method0("fileno") {
        Ok(fd) => Ok(Ok(fd.extract()?)),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) || e.is_instance(py, &unsupported) => {
            Ok(Err(e))
        }
        Err(e) => Err(e),
    }
}

/// Moves the file object's position past what was sent, as the stdlib's `finally` clauses.
fn seek_after(file: &Bound<'_, PyAny>, sent: u64, position: i64) -> PyResult<()> {
    if sent > 0 && file.hasattr("seek")? {
        file.call_method1("seek", (position,))?;
    }
    Ok(())
}

/// How the kernel path ended: bytes sent, or why it gave up before sending any.
pub(super) enum KernelPath {
    Sent(u64),
    GiveUp(PyErr),
}

/// The stdlib's `_sendfile_use_sendfile`: `sendfile(2)` from the file's descriptor.
pub(super) fn use_sendfile(
    sock: &Socket,
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    offset: i64,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<KernelPath> {
    let count = check_params(sock, py, file, count)?;
    let fd = match file_descriptor(py, file)? {
        Ok(fd) => fd,
        Err(reason) => return Ok(KernelPath::GiveUp(reason)),
    };
    let got = blocking(py, |intr| Ok(sock.sendfile_with(fd, offset, count.map(|c| c as u64), intr)))?;
    match got {
        Ok(sent) => {
            seek_after(file, sent, offset + sent as i64)?;
            Ok(KernelPath::Sent(sent))
        }
        Err(SendfileError::Failed { sent, error }) => {
            let err = to_pyerr(py, error);
            seek_after(file, sent, offset + sent as i64)?;
            Err(err)
        }
        Err(SendfileError::GiveUp(error)) => Ok(KernelPath::GiveUp(to_pyerr(py, error))),
    }
}

/// `socket._GiveupOnSendfile(reason)`, which `_sendfile_use_sendfile` raises when called itself.
pub(super) fn giveup_error(py: Python<'_>, reason: PyErr) -> PyErr {
    let made = py.import("socket").and_then(|m| m.getattr("_GiveupOnSendfile")).and_then(|c| c.call1((reason,)));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// `sendfile(file, offset, count)`: the kernel path, else the fallback, as the stdlib.
pub(super) fn sendfile(
    sock: &Socket,
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    offset: i64,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    match use_sendfile(sock, py, file, offset, count)? {
        KernelPath::Sent(n) => Ok(n),
        KernelPath::GiveUp(_) => use_send(sock, py, file, offset, count),
    }
}

/// The stdlib's `_sendfile_use_send`: reads blocks of the file object and sends each whole.
pub(super) fn use_send(
    sock: &Socket,
    py: Python<'_>,
    file: &Bound<'_, PyAny>,
    offset: i64,
    count: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    let count = check_params(sock, py, file, count)?;
    core::check_blocking(sock).py_err(py)?;
    if offset != 0 {
        file.call_method1("seek", (offset,))?;
    }
    let mut block = count.map_or(FALLBACK_BLOCK, |c| (c as u64).min(FALLBACK_BLOCK as u64) as usize);
    let mut total: u64 = 0;
    let result = (|| -> PyResult<()> {
        loop {
            if let Some(c) = count {
                block = block.min((c as u64 - total) as usize);
                if block == 0 {
                    return Ok(());
                }
            }
            let mut chunk = file.call_method1("read", (block,))?;
            if !chunk.is_instance_of::<PyBytes>() {
                // As the stdlib's memoryview(file.read(n)), with its errors.
                chunk = py.get_type::<PyMemoryView>().call1((chunk,))?;
            }
            let data = Data::get(&chunk)?;
            let mut rest = data.as_slice();
            if rest.is_empty() {
                return Ok(());
            }
            while !rest.is_empty() {
                match blocking(py, |intr| sock.send_with(rest, 0, intr)) {
                    Ok(n) => {
                        total += n as u64;
                        rest = &rest[n..];
                    }
                    // The stdlib retries a send that would block.
                    Err(e) if e.is_instance_of::<pyo3::exceptions::PyBlockingIOError>(py) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    })();
    seek_after(file, total, offset + total as i64)?;
    result.map(|()| total)
}
