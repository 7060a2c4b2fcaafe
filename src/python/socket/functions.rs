//! The module-level functions of `netcore` that make or configure sockets.

use pyo3::exceptions::{PyOSError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyString, PyTuple};

use super::blocking_multi;
use super::class::PySocket;
use super::convert::{address_arg, host_arg, port_arg, timeout_arg, timeout_obj, unpack_pair};
use crate::error::Error;
use crate::python::errors::{to_pyerr, IntoPyResult};
use crate::python::gil;
use crate::socket::{self as core, Socket};

/// socketpair([family[, type[, proto]]]) -> (socket object, socket object)
#[pyfunction]
#[pyo3(signature = (family = None, r#type = libc::SOCK_STREAM, proto = 0), text_signature = "(family=None, type=1, proto=0)")]
fn socketpair(py: Python<'_>, family: Option<i32>, r#type: i32, proto: i32) -> PyResult<(PySocket, PySocket)> {
    let (a, b) = Socket::pair(family.unwrap_or(libc::AF_UNIX), r#type, proto).py_err(py)?;
    Ok((PySocket::wrap(a), PySocket::wrap(b)))
}

/// fromfd(fd, family, type[, proto]) -> socket object: a socket on a duplicate of fd.
#[pyfunction]
#[pyo3(signature = (fd, family, r#type, proto = 0))]
fn fromfd(py: Python<'_>, fd: &Bound<'_, PyAny>, family: i32, r#type: i32, proto: i32) -> PyResult<PySocket> {
    // An int, as os.dup takes it (the stdlib's fromfd is `socket(..., dup(fd))`).
    let fd: i32 = fd.extract()?;
    Socket::fromfd(fd, family, r#type, proto).py_err(py).map(PySocket::wrap)
}

/// getdefaulttimeout() -> timeout: the timeout new netcore sockets get (None: blocking).
#[pyfunction]
fn getdefaulttimeout() -> Option<f64> {
    timeout_obj(core::getdefaulttimeout())
}

/// setdefaulttimeout(timeout): the timeout new netcore sockets get.
#[pyfunction]
fn setdefaulttimeout(py: Python<'_>, timeout: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    core::setdefaulttimeout(timeout_arg(py, timeout)?);
    Ok(())
}

/// has_dualstack_ipv6() -> bool: can one socket take IPv4 and IPv6 connections?
#[pyfunction]
fn has_dualstack_ipv6(py: Python<'_>) -> bool {
    gil::detach(py, core::has_dualstack_ipv6)
}

/// The core of create_connection; `netcore.create_connection` supplies the default timeout.
#[pyfunction]
#[pyo3(signature = (address, timeout, source_address = None, all_errors = false))]
fn _create_connection(
    py: Python<'_>,
    address: &Bound<'_, PyAny>,
    timeout: &Bound<'_, PyAny>,
    source_address: Option<&Bound<'_, PyAny>>,
    all_errors: bool,
) -> PyResult<PySocket> {
    let (host, port) = unpack_pair(address)?;
    let host = if host.is_none() { None } else { Some(host_arg(&host)?) };
    let port: Option<String> = if port.is_none() {
        None
    } else if let Ok(n) = port.cast::<PyInt>() {
        Some(n.str()?.to_string())
    } else if port.is_instance_of::<PyString>() {
        Some(port.extract()?)
    } else if port.is_instance_of::<PyBytes>() {
        Some(String::from_utf8_lossy(&port.extract::<Vec<u8>>()?).into_owned())
    } else {
        return Err(PyOSError::new_err("Int or String expected"));
    };
    let sentinel = py.import("socket")?.getattr("_GLOBAL_DEFAULT_TIMEOUT")?;
    let timeout = if timeout.is(&sentinel) {
        core::ConnectTimeout::Default
    } else {
        core::ConnectTimeout::Set(timeout_arg(py, Some(timeout))?)
    };
    // The family is only known per attempt: keep the source as (host, port).
    let source = match source_address {
        Some(s) if s.is_truthy()? => {
            let t =
                s.cast::<PyTuple>().map_err(|_| PyTypeError::new_err("source_address must be a (host, port) tuple"))?;
            if t.len() < 2 {
                return Err(PyTypeError::new_err("source_address must be a (host, port) tuple"));
            }
            Some((host_arg(&t.get_item(0)?)?, port_arg(&t.get_item(1)?, "bind")?))
        }
        _ => None,
    };
    let source = source.as_ref().map(|(h, p)| (h.as_str(), *p));
    let result =
        blocking_multi(py, |intr| core::create_connection(host.as_deref(), port.as_deref(), timeout, source, intr))?;
    match result {
        Ok(sock) => Ok(PySocket::wrap(sock)),
        Err(mut errors) => {
            if errors.len() == 1 || !all_errors {
                let last = errors.pop().unwrap_or(Error::Failed("getaddrinfo returns an empty list".into()));
                return Err(to_pyerr(py, last));
            }
            let excs: Vec<PyErr> = errors.into_iter().map(|e| to_pyerr(py, e)).collect();
            let excs: Vec<Py<PyAny>> = excs.into_iter().map(|e| e.into_value(py).into_any()).collect();
            let group = py.import("builtins")?.getattr("ExceptionGroup")?.call1(("create_connection failed", excs))?;
            Err(PyErr::from_value(group))
        }
    }
}

/// The core of create_server: socket, options, bind (errors name the address), listen.
#[pyfunction]
#[pyo3(signature = (address, *, family = libc::AF_INET, backlog = None, reuse_port = false, dualstack_ipv6 = false))]
fn create_server(
    py: Python<'_>,
    address: &Bound<'_, PyAny>,
    family: i32,
    backlog: Option<i32>,
    reuse_port: bool,
    dualstack_ipv6: bool,
) -> PyResult<PySocket> {
    let sock = core::server_socket(family, reuse_port, dualstack_ipv6).py_err(py)?;
    let addr = address_arg(family, address, "bind")?;
    if let Err(e) = gil::detach(py, || sock.bind(&addr)) {
        return Err(match e {
            Error::Os(ref io) if io.raw_os_error().is_some() => {
                let errno = io.raw_os_error().unwrap_or(0);
                let msg = format!("{} (while attempting to bind on address {})", e.message(), address.repr()?);
                PyOSError::new_err((errno, msg))
            }
            other => to_pyerr(py, other),
        });
    }
    sock.listen(backlog).py_err(py)?;
    Ok(PySocket::wrap(sock))
}
/// Adds the functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(socketpair, m)?)?;
    m.add_function(wrap_pyfunction!(fromfd, m)?)?;
    m.add_function(wrap_pyfunction!(getdefaulttimeout, m)?)?;
    m.add_function(wrap_pyfunction!(setdefaulttimeout, m)?)?;
    m.add_function(wrap_pyfunction!(has_dualstack_ipv6, m)?)?;
    m.add_function(wrap_pyfunction!(_create_connection, m)?)?;
    m.add_function(wrap_pyfunction!(create_server, m)?)?;
    Ok(())
}
